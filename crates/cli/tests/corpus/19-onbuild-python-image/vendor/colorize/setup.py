from setuptools import setup

setup(name="colorize", version="0.0.1", py_modules=["colorize"])
