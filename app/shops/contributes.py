"""What the shops domain contributes: demo shops, privacy."""

from app.interfaces import Contribution, DemoLoader, Privacy
from sqlmodel import col
from app.models.shops import Product, ShopPhoto
from app.photo_sweep import named_by
from app.shops import demo, insights, opendata, privacy

CONTRIBUTES = Contribution(
    demo=(DemoLoader(70, "shops", demo.load_demo),),
    privacy=(Privacy("shops", privacy.export_person, privacy.erase_person),),
    photo_names=(
        named_by(
            col(ShopPhoto.display_name),
            col(ShopPhoto.thumb_name),
            col(Product.display_name),
            col(Product.thumb_name),
        ),
    ),
    open_data=opendata.DATASETS,
    figures=insights.FIGURES,
)
