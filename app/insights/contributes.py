"""What the decision-support logic contributes to Eclor: nothing beyond its pages (``app.routes.insights``);
it reads the other domains' figures and trips through the registry."""

from app.interfaces import Contribution

CONTRIBUTES = Contribution()
