"""bpsync command families: each module exports COMMANDS (a list of click commands) and cli.py adds them."""
