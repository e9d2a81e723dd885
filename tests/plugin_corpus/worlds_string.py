"""Broken: ``tutelage_worlds`` returns a string."""
from tutelage import hookimpl


@hookimpl
def tutelage_worlds():
    return "corpus/Oops-v0"
