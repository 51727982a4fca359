"""Gunicorn's settings for the CRM, read from the working directory: start gunicorn in the
project's root (README.md, Deploying). Only what the app needs of its server; the command line
gives the rest (workers, address).
"""


def post_worker_init(worker):
    """The worker has built the app: take what lives as long as the process out of the
    garbage collector's walks (crm.app.ready_to_serve)."""
    from crm.app import ready_to_serve

    worker.log.info("ready: %d objects of the built app left out of the garbage collector's walks", ready_to_serve())
