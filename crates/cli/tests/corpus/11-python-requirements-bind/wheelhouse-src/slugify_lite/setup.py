from setuptools import setup

setup(name="slugify-lite", version="1.0.0", packages=["slugify_lite"])
