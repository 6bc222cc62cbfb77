"""The dashboard's routes, mounted by ``footfall.app`` next to the API."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from footfall.dashboard import auth_views, settings_views, share_views, site_views, users_views

STATIC = Path(__file__).parent / "static"
SITE = "/sites/{site_id}"


def routes() -> list[BaseRoute]:
    return [
        Route("/", site_views.index, methods=["GET"]),
        Route("/login", auth_views.login_page, methods=["GET"]),
        Route("/login", auth_views.login_submit, methods=["POST"]),
        Route("/logout", auth_views.logout, methods=["POST"]),
        Route("/account", auth_views.account_page, methods=["GET"]),
        Route("/account/password", auth_views.change_password, methods=["POST"]),
        Route("/setup", auth_views.setup_page, methods=["GET"]),
        Route("/setup", auth_views.setup_submit, methods=["POST"]),
        Route("/sites", site_views.create_site, methods=["POST"]),
        Route("/sites.json", site_views.site_choices, methods=["GET"]),
        Route("/users", users_views.users_page, methods=["GET"]),
        Route("/users", users_views.create_user, methods=["POST"]),
        Route("/users/site-creation", users_views.site_creation, methods=["POST"]),
        Route(SITE, site_views.dashboard, methods=["GET"]),
        Route(SITE + "/realtime", site_views.realtime, methods=["GET"]),
        Route(SITE + "/live", site_views.live, methods=["GET"]),
        Route(SITE + "/props", site_views.props, methods=["GET"]),
        Route(SITE + "/sessions", site_views.sessions_list, methods=["GET"]),
        Route(SITE + "/sessions/{session_id}", site_views.session_timeline, methods=["GET"]),
        Route(SITE + "/settings", settings_views.settings_page, methods=["GET"]),
        Route(SITE + "/settings/{action}", settings_views.settings_action, methods=["POST"]),
        Route("/share/{slug}", share_views.share_page, methods=["GET"]),
        Route("/share/{slug}", share_views.share_unlock, methods=["POST"]),
        Route("/share/{slug}/query", share_views.share_query, methods=["POST"]),
        Route("/share/{slug}/funnel", share_views.share_funnel, methods=["GET"]),
        Route("/share/{slug}/live", share_views.share_live, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
