"""Imports every module that registers an ``eclor demo`` loader."""

import app.demo  # noqa: F401  accounts
import app.carpool.ads  # noqa: F401  carpool
import app.alerts.publish  # noqa: F401  alerts
import app.sharing.loans, app.shops.orders  # noqa: E401,F401  neighbour sharing, local shops
import app.reports.workflow  # noqa: F401  dump-site reports
import app.lighting.demo  # noqa: F401  lighting and sensors
