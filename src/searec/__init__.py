"""searec: a reproducible pipeline for multimodal recommendation research around SEA.

SEA: Zhuangzhuang He et al., "It is Never Too Late to Mend: Separate Learning for Multimedia
Recommendation", arXiv 2406.08270. The package holds the stages that the Snakefile and dvc.yaml
call through the ``searec`` command line; see ``searec --help``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("searec")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
