"""What the accounts domain contributes: the demo accounts, and the account's own rows in exports and erasure."""

from app import demo
from app.accounts import lifecycle
from app.interfaces import Contribution, DemoLoader, Privacy

CONTRIBUTES = Contribution(
    demo=(DemoLoader(0, "accounts", demo.load_users),),
    privacy=(Privacy("account", lifecycle.export_account, lifecycle.erase_account_rows),),
)
