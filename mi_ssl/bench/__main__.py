"""``python -m mi_ssl.bench``: the ``mi-ssl bench`` command without installing the package.

The call is guarded so that importing this module (the API reference imports every module) runs nothing.
"""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
