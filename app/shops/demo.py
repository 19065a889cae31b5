"""Demo shops, products, hours and orders for ``eclor demo``."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from app.db import utcnow, saved_id
from app.demo_pictures import demo_photo, demo_store
from app.models.shops import (
    Product,
    Shop,
    ShopHours,
    ShopHoursException,
    ShopPhoto,
    ShopPickupPoint,
)
from app.shops.hours import Schedule, pickup_slots
from app.shops.orders import place_order, unique_slug
from app.territories import zone as territory_zone

# (owner e-mail, display name, shop name, category, commune, address, phone, hours key, motif, colours, products)
DEMO_SHOPS: list[dict[str, Any]] = [
    {
        "owner": "commercant@eclor.test",
        "name": "Boulangerie du Val",
        "category": "bakery",
        "commune": "54580",
        "address": "12 rue Carnot, 54190 Villerupt",
        "phone": "03 82 89 12 34",
        "hours": "bakery",
        "motif": "bread",
        "colours": ((246, 222, 178), (196, 130, 60)),
        "description": "Pain au levain, viennoiseries pur beurre et pâtisseries maison. Fournées à 7 h et 16 h.",
        "products": [
            ("Baguette tradition", 130, "la pièce", 40),
            ("Pain de campagne au levain", 420, "800 g", 12),
            ("Croissant pur beurre", 120, "la pièce", 30),
            ("Tarte aux mirabelles", 1850, "6 parts", 2),
            ("Bretzel", 150, "la pièce", 0),
            ("Kougelhopf", 1200, "sur commande", None),
        ],
    },
    {
        "owner": "fleuriste@eclor.test",
        "name": "Fleurs de Sophie",
        "category": "florist",
        "commune": "57038",
        "address": "3 place du Marché, 57390 Audun-le-Tiche",
        "phone": "03 82 52 40 11",
        "hours": "florist",
        "motif": "flower",
        "colours": ((232, 240, 226), (214, 80, 120)),
        "description": "Bouquets de saison, plantes et compositions pour vos événements. Livraison sur le territoire.",
        "products": [
            ("Bouquet de saison", 2500, "", 8),
            ("Rose rouge", 350, "la tige", 60),
            ("Orchidée blanche", 2900, "en pot", 3),
            ("Composition sur mesure", 4500, "sur commande", None),
        ],
    },
    {
        "owner": "boucherie@eclor.test",
        "owner_name": "Patrick Weber",
        "name": "Boucherie Weber",
        "category": "butcher",
        "commune": "57041",
        "address": "27 rue de Metz, 57710 Aumetz",
        "phone": "03 82 91 20 55",
        "hours": "butcher",
        "motif": "meat",
        "colours": ((242, 230, 226), (180, 40, 50)),
        "description": "Viandes de Lorraine, charcuterie maison, plats traiteur le vendredi.",
        "products": [
            ("Rôti de porc", 1590, "le kg", 6),
            ("Saucisses de Lorraine", 1290, "le kg", 10),
            ("Pâté lorrain", 890, "la part", 4),
            ("Colis barbecue", 3500, "sur commande", None),
        ],
    },
    {
        "owner": "velo@eclor.test",
        "owner_name": "Karim Atelier",
        "name": "Atelier Vélo Alzette",
        "category": "bike",
        "commune": "57529",
        "address": "8 rue de la Gare, 57840 Ottange",
        "phone": "06 12 34 56 78",
        "hours": "bike",
        "motif": "bike",
        "colours": ((220, 233, 245), (30, 90, 160)),
        "description": "Réparation et entretien de vélos, vélos électriques compris. Révision en 48 h.",
        "products": [
            ("Chambre à air 700×28", 790, "", 15),
            ("Révision complète", 4900, "sur rendez-vous", None),
            ("Éclairage LED avant/arrière", 2490, "le kit", 5),
            ("Antivol en U", 3290, "", 2),
        ],
    },
    {
        "owner": "epicerie@eclor.test",
        "owner_name": "Lucie Marchal",
        "name": "L'Épicerie de Thil",
        "category": "grocery",
        "commune": "54523",
        "address": "2 Grand'Rue, 54880 Thil",
        "phone": "03 82 26 70 02",
        "hours": "grocery",
        "motif": "veg",
        "colours": ((238, 244, 228), (120, 170, 60)),
        "description": "Fruits et légumes de producteurs locaux, vrac, produits laitiers. Ouvert tard le vendredi.",
        "products": [
            ("Panier de légumes de saison", 1500, "", 10),
            ("Mirabelles de Lorraine", 650, "le kg", 20),
            ("Œufs fermiers", 390, "les 6", 24),
            ("Fromage de Lorraine", 520, "250 g", 0),
        ],
    },
    {
        "owner": "ferme@eclor.test",
        "owner_name": "Thomas Gérard",
        "name": "Ferme du Bois d'Ottange",
        "category": "farm",
        "commune": "57529",
        "address": "Chemin du Bois, 57840 Ottange",
        "phone": "03 82 50 41 17",
        "hours": "farm",
        "motif": "veg",
        "colours": ((236, 242, 222), (96, 140, 48)),
        "description": "Légumes bio et œufs de la ferme. Panier de la semaine à retirer au marché "
        "de Villerupt le samedi matin ou à la mairie d'Audun-le-Tiche le jeudi soir.",
        "products": [
            ("Panier de la semaine (5 à 6 légumes)", 1500, "le panier", 30),
            ("Grand panier familial", 2400, "le panier", 15),
            ("Œufs de plein air", 290, "les 6", None),
        ],
        "baskets": ("Panier de la semaine (5 à 6 légumes)", "Grand panier familial"),
        "points": [
            ("Marché de Villerupt", "Place Jean-Jaurès", "54580", 5, "08:00", "12:30"),
            ("Mairie d'Audun-le-Tiche", "Rue de la Libération", "57038", 3, "17:00", "19:00"),
        ],
    },
]
# weekday -> intervals, by kind of shop (0 = Monday).
DEMO_HOURS: dict[str, dict[int, list[tuple[str, str]]]] = {
    "bakery": {d: [("06:30", "13:00"), ("15:00", "19:00")] for d in (1, 2, 3, 4, 5)}
    | {6: [("07:00", "12:30")]},
    "florist": {d: [("09:00", "12:00"), ("14:00", "19:00")] for d in (1, 2, 3, 4, 5)}
    | {6: [("09:00", "12:30")]},
    "butcher": {d: [("08:00", "12:30"), ("15:00", "18:30")] for d in (1, 2, 3, 4)}
    | {5: [("07:30", "17:00")]},
    "bike": {d: [("10:00", "12:00"), ("14:00", "18:30")] for d in (1, 2, 3, 4, 5)},
    "grocery": {d: [("08:30", "19:30")] for d in (0, 1, 2, 3, 5)}
    | {4: [("08:30", "12:00"), ("15:00", "01:00")]},
    "farm": {},  # a producer sells at its pick-up points only
}


def load_demo(session: Session, rng: Any) -> str | None:
    from app import auth
    from app.demo import DEMO_PASSWORD, demo_user
    from app.models.accounts import User
    from app.models.territory import Commune

    created = 0
    for spec in DEMO_SHOPS:
        owner = session.scalars(select(User).where(User.email == spec["owner"])).first()
        if owner is None:
            if "owner_name" not in spec:
                owner = demo_user(session, spec["owner"])
            else:
                owner = auth.create_user(
                    session,
                    spec["owner"],
                    role="merchant",
                    password=DEMO_PASSWORD,
                    display_name=spec["owner_name"],
                )
                owner.commune_insee = spec["commune"]
        if session.scalars(select(col(Shop.id)).where(col(Shop.owner_id) == owner.id)).first():
            continue
        commune = session.get(Commune, spec["commune"])
        lat = (commune.lat if commune else 49.46) + rng.uniform(-0.002, 0.002)
        lon = (commune.lon if commune else 5.95) + rng.uniform(-0.002, 0.002)
        shop = Shop(
            owner_id=saved_id(owner),
            slug=unique_slug(session, spec["name"]),
            name=spec["name"],
            category=spec["category"],
            description=spec["description"],
            address=spec["address"],
            commune_insee=spec["commune"],
            lat=round(lat, 5),
            lon=round(lon, 5),
            phone=spec["phone"],
        )
        session.add(shop)
        session.flush()
        background, accent = spec["colours"]
        display, thumb, w, h = demo_store(
            demo_photo(spec["name"], background, accent, spec["motif"], rng)
        )
        session.add(
            ShopPhoto(
                shop_id=saved_id(shop), display_name=display, thumb_name=thumb, width=w, height=h
            )
        )
        for weekday, intervals in DEMO_HOURS[spec["hours"]].items():
            for opens, closes in intervals:
                session.add(
                    ShopHours(
                        shop_id=saved_id(shop),
                        weekday=weekday,
                        opens=time.fromisoformat(opens),
                        closes=time.fromisoformat(closes),
                    )
                )
        for name, price, unit, stock in spec["products"]:
            display, thumb, _w, _h = demo_store(
                demo_photo(name[:22], background, accent, spec["motif"], rng)
            )
            session.add(
                Product(
                    shop_id=saved_id(shop),
                    name=name,
                    price_cents=price,
                    unit=unit,
                    stock=stock,
                    basket=name in spec.get("baskets", ()),
                    display_name=display,
                    thumb_name=thumb,
                )
            )
        for name, address, insee, weekday, opens, closes in spec.get("points", ()):
            session.add(
                ShopPickupPoint(
                    shop_id=saved_id(shop),
                    name=name,
                    address=address,
                    commune_insee=insee,
                    weekday=weekday,
                    opens=time.fromisoformat(opens),
                    closes=time.fromisoformat(closes),
                )
            )
        created += 1
    today = utcnow().astimezone(territory_zone(session)).date()  # the default territory's
    bakery = session.scalars(select(Shop).where(col(Shop.name) == "Boulangerie du Val")).first()
    if bakery is not None and created:
        session.add(
            ShopHoursException(
                shop_id=saved_id(bakery),
                on_date=today + timedelta(days=10),
                label="Congés",
            )
        )
        customer = session.scalars(
            select(User).where(col(User.email) == "voisine@eclor.test")
        ).first()
        product = session.scalars(
            select(Product).where(
                col(Product.shop_id) == bakery.id,
                col(Product.stock).is_not(None),
                col(Product.stock) > 5,
            )
        ).first()
        schedule = Schedule.load(session, bakery)
        slots = pickup_slots(schedule, utcnow())
        if customer is not None and product is not None and slots:
            place_order(
                session,
                bakery,
                saved_id(customer),
                customer.display_name,
                {saved_id(product): 4},
                slots[0],
                "Bien cuites, s'il vous plaît.",
            )
    return f"{created} shops with hours, products and photos" if created else None
