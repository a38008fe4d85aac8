"""``python -m mi_ssl.bench``: the ``mi-ssl bench`` command without installing the package."""

import sys

from .cli import main

sys.exit(main())
