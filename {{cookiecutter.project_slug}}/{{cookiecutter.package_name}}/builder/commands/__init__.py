"""The command line's commands, one module each: its arguments (``add_arguments``) and its handler
(``run``). ``cli`` imports only the module of the command asked for."""
