"""Built-in plugins, one package per integration."""
