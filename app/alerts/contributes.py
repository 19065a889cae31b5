"""What the alerts domain contributes: fan-out jobs, the push channel, its panel, links, commands, demo, privacy."""

from app.alerts import (
    cli,
    demo,
    fanout,
    ngsi,
    opendata,
    ops,
    privacy,
    publish,
    subscriptions,
)
from app.interfaces import Contribution, DemoLoader, Link, Panel, Privacy

CONTRIBUTES = Contribution(
    ops_layers=ops.OPS_LAYERS,
    kpis=ops.OPS_KPIS,
    ops_actions=ops.OPS_COMMUNE_ACTIONS,
    home_panels=(Panel("alerts", 10, "alerts/_home_panel.html", publish.home_panel),),
    staff_links=(
        Link(
            30,
            "/staff/alerts",
            "Alertes",
            "Écrire, envoyer, mettre à jour ou lever une alerte ; importer un message CAP.",
        ),
    ),
    account_links=(
        Link(
            20, "/me/push", "Notifications", "Sujets, communes, heures calmes et appareils abonnés."
        ),
    ),
    commands=cli.COMMANDS,
    demo=(DemoLoader(50, "alerts", demo.load_alerts),),
    jobs={
        "push.alert": fanout.deliver,
        "push.user": fanout.deliver_personal,
    },
    channels={"push": subscriptions.push_channel},
    privacy=(Privacy("push", privacy.export_push, privacy.erase_push),),
    open_data=opendata.DATASETS,
    ngsi_types=ngsi.NGSI_TYPES,
)
