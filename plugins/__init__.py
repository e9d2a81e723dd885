"""The built-in plugins of tutelage, registered through the ``tutelage`` entry-point group like any third-party plugin."""
