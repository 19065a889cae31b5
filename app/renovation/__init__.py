"""Renovation guide: a questionnaire that finds the national and local aids a household may claim
(rules as data, with their source and year), and requests for an appointment with an adviser."""
