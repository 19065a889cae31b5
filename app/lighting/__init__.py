"""Public lighting: dimming programs and calendars, commands to the devices, the relay, inventory, energy."""
