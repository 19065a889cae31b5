"""Access rules of the home, PWA and account routes of the foundation."""

from tests.access import Row, same_for_all, signed_in_only

ROWS = [
    Row("GET", "/", same_for_all(200)),
    Row("GET", "/about", same_for_all(200)),
    Row("GET", "/schema", same_for_all(200)),
    Row("GET", "/schema/openapi.json", same_for_all(200)),
    Row("GET", "/schema/openapi.yaml", same_for_all(200)),
    Row("GET", "/schema/openapi.yml", same_for_all(200)),
    # No viewer page (they load scripts from CDNs): any other name under /schema is missing.
    Row("GET", "/schema/swagger", same_for_all(404), route="/schema/{path:str}"),
    Row("GET", "/source", same_for_all(200)),
    Row("GET", "/offline", same_for_all(200)),
    Row("GET", "/manifest.webmanifest", same_for_all(200)),
    Row("GET", "/territory.css", same_for_all(200)),
    Row(
        "GET",
        "/territory-icons/icon-192.png",
        same_for_all(200),
        route="/territory-icons/{name:str}",
    ),
    Row("GET", "/sw.js", same_for_all(200)),
    Row("GET", "/healthz", same_for_all(200)),
    Row("GET", "/livez", same_for_all(200)),
    Row("GET", "/readyz", same_for_all(200)),
    Row("POST", "/lang", same_for_all(303), data={"lang": "en", "next": "/"}),
    Row("GET", "/login", same_for_all(200)),
    Row(
        "POST",
        "/login",
        same_for_all(400),
        data={"email": "nobody@eclor.test", "password": "wrong-password"},
    ),
    Row("POST", "/logout", same_for_all(303)),
    Row("GET", "/signup", same_for_all(200)),
    Row("POST", "/signup", same_for_all(400), data={"email": "not-an-email"}),
    Row("GET", "/me", signed_in_only(200)),
]
