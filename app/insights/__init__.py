"""Decision support for elected officials and planners (``/staff/insights``).

The figures every domain counts per month and commune (``app.interfaces.MonthlyFigure``, given
by the registry) by theme, with their trend, per 1,000 residents, in euros and tonnes of CO₂;
the origin–destination matrix of trips on both sides of the border (``od``); the foresight
scenarios (``foresight``); the lighting's saving against a measured baseline (``baseline``); the
monthly summary as PDF (``pdf``, the one module that uses fpdf2). Small counts are hidden as in
open data (``opendata``).
"""
