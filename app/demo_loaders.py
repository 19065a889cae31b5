"""Imports every module that registers an ``eclor demo`` loader."""

import app.demo  # noqa: F401  accounts
import app.carpool  # noqa: F401  carpool
import app.alerts  # noqa: F401  alerts
import app.sharing, app.shops  # noqa: E401,F401  neighbour sharing, local shops
import app.reports  # noqa: F401  dump-site reports
import app.lighting_demo  # noqa: F401  lighting and sensors
