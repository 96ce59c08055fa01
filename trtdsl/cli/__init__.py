"""The command-line interface: one module per subcommand. Only this package prints."""
