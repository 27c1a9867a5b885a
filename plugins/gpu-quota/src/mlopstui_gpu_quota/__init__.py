"""GPU quota: a team's GPU quota service as an mlopstui source, and the pane that shows it.

`mlopstui_gpu_quota.source` is headless (the sync threads and the CLI import it);
`mlopstui_gpu_quota.pane` is the Textual pane. This package imports neither, so loading one
entry point never loads the other.
"""

__version__ = "0.1.0"

SOURCE = "gpu-quota"
"""The source's name, its config section `[sources.gpu-quota]`, its feed and its cache topic."""
TOPIC = "gpu-quota"
"""The cache topic the source announces and the pane subscribes to."""
RECORDS = "teams"
"""The kind of record (`mlopstui.plugin_api.data`) holding one record per team."""
