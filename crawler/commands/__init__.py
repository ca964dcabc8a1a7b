"""The project's Scrapy commands (``COMMANDS_MODULE``): each overrides Scrapy's of its name."""
