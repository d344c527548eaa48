from setuptools import setup

setup(name="shout", version="0.1.0", py_modules=["shout"])
