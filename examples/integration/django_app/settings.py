import os

from sso_bridge.web.django import TEMPLATES as SIGN_IN_PAGES

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["sso_bridge.web.django"]
MIDDLEWARE = ["django.middleware.security.SecurityMiddleware"]
ROOT_URLCONF = "django_app.urls"
TEMPLATES = [SIGN_IN_PAGES]  # the sign-in pages, through Django's Jinja2 engine
SSO_BRIDGE = {"BROKER": "django_app.bridge.broker", "CONFIG": {"site_name": "Школа № 17"}}
