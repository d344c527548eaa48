# syntax=docker/dockerfile:1
# python:3-onbuild as it was (docker-library/python), on a virtual environment: the
# image a team publishes, whose triggers install and copy each application built on it.
FROM python:3.11-slim
ENV VIRTUAL_ENV=/venv PATH=/venv/bin:$PATH PIP_NO_INDEX=1
RUN python3 -m venv --system-site-packages /venv
RUN mkdir -p /usr/src/app
WORKDIR /usr/src/app
ONBUILD COPY requirements.txt /usr/src/app/
ONBUILD COPY vendor/ /usr/src/app/vendor/
ONBUILD RUN pip install --no-build-isolation --no-cache-dir -r requirements.txt
ONBUILD COPY app/ /usr/src/app
