"""Sphinx configuration for the linked_neurons documentation."""

import inspect
import os
import sys

# Keras reads the backend when it is first imported; autodoc imports the package.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

import linked_neurons  # noqa: E402

# -- Project -----------------------------------------------------------------
project = "linked_neurons"
author = "The linked_neurons authors"
copyright = "2017-2026, The linked_neurons authors"
release = linked_neurons.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
pygments_style = "sphinx"

# -- cross-references ------------------------------------------------------------
# Links to Python's and NumPy's docs come from their intersphinx inventories,
# which are fetched over the network. Read the Docs builds online and sets
# READTHEDOCS=True; the CI and offline builds have no network, and a failed
# fetch is a warning that ``-W`` would turn into an error, so the inventories
# are used only online (or with LINKED_NEURONS_DOCS_ONLINE=1). Either way
# ``nitpicky`` (``-n``) checks every reference to the library itself; names of
# the external packages that an offline build cannot resolve, or that publish
# no inventory (Keras), are listed in ``nitpick_ignore_regex`` and nothing else.
_ONLINE = os.environ.get("READTHEDOCS") == "True" or bool(
    os.environ.get("LINKED_NEURONS_DOCS_ONLINE")
)
intersphinx_mapping = (
    {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
    }
    if _ONLINE
    else {}
)
intersphinx_timeout = 10
nitpicky = True
_EXTERNAL = r"(keras|tensorflow|tf|jax|jnp|torch|numpy|np|pandas|matplotlib|sklearn)(\..+)?"
nitpick_ignore_regex = [
    (r"py:(class|obj|func|meth|attr|data|exc|mod)", _EXTERNAL),
    # Python's builtins, resolved through the Python inventory when online.
    (r"py:(class|obj|exc)", r"(int|float|str|bool|dict|list|tuple|bytes|callable|object|None"
     r"|ValueError|TypeError|os\.PathLike|pathlib\.Path|collections\.abc\..+|typing\..+)"),
]

# -- autodoc -----------------------------------------------------------------
autodoc_default_options = {
    "members": True,
    "member-order": "bysource",
    "show-inheritance": True,
}
# Methods such as ``build`` and ``call`` have no docstring of their own; without
# this, autodoc would copy Keras' base-class docstrings into these pages.
autodoc_inherit_docstrings = False
autoclass_content = "class"

# -- napoleon (Google-style docstrings) ----------------------------------------
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True
# Section titles used by the Keras-style layer docstrings.
napoleon_custom_sections = [
    "Input shape",
    "Output shape",
    "Reference",
]

# -- HTML ----------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"linked_neurons {release}"
html_theme_options = {
    "description": "Linked neurons and other activation layers for Keras 3.",
    "fixed_sidebar": True,
}


# -- Hooks ---------------------------------------------------------------------
def _constructor_signature(app, what, name, obj, options, signature, return_annotation):
    """Shows a layer's ``__init__`` arguments instead of ``(*args, **kwargs)``.

    Keras layers define ``__new__(cls, *args, **kwargs)``, which autodoc would
    otherwise report as the class signature.
    """
    if what != "class" or signature != "(*args, **kwargs)":
        return None
    try:
        sig = inspect.signature(obj.__init__)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())[1:]  # drop self
    sig = sig.replace(parameters=params, return_annotation=inspect.Signature.empty)
    return str(sig), return_annotation


def _public_bases(app, name, obj, options, bases):
    """Lists public base classes only, and Keras' Layer under its public name."""
    resolved = []
    for base in bases:
        while isinstance(base, type) and base.__name__.startswith("_") and base.__bases__:
            base = base.__bases__[0]
        if (
            isinstance(base, type)
            and base.__name__ == "Layer"
            and base.__module__.startswith("keras.")
        ):
            base = ":py:class:`keras.layers.Layer`"
        resolved.append(base)
    bases[:] = resolved


def setup(app):
    app.connect("autodoc-process-signature", _constructor_signature)
    app.connect("autodoc-process-bases", _public_bases)
