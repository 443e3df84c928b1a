import os

from sso_bridge.web.django import TEMPLATES as SIGN_IN_PAGES

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["sso_bridge.web.django"]
MIDDLEWARE = ["django.middleware.security.SecurityMiddleware"]
ROOT_URLCONF = "django_app.urls"
TEMPLATES = [SIGN_IN_PAGES]  # the sign-in pages, through Django's Jinja2 engine
PROXIES = os.environ.get("TRUSTED_PROXIES", "").split()  # a balancer that sets X-Forwarded-For
CONFIG = {"site_name": "Школа № 17", "trusted_proxies": PROXIES}
SSO_BRIDGE = {"BROKER": "django_app.bridge.broker", "CONFIG": CONFIG}
