"""warnlink: real-time multi-nation ballistic missile warning data sharing.

Open software modelled on the mechanism the United States, Japan and the Republic of Korea
activated on 19 December 2023. Sub-packages follow the data flow (see DESIGN.md):
``geo`` -> ``physics`` -> ``sensors`` -> ``scenario`` -> ``tracking`` -> ``assessment`` ->
``alerts`` -> ``sharing``.
"""

__version__ = "0.1.0"
