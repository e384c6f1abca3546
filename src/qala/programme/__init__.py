"""The programme monitor: smart-city projects, their money and their delivery, checked against
the hub's own data.

Projects, contracts, payments, milestones and deliverables follow OC4IDS 0.9 and OCDS 1.1
(:mod:`.model`); every change is an immutable revision and the current state is compiled from
them (:mod:`.revisions`, stored by :mod:`.repository`). Deliverables are data expectations
evaluated over an :class:`~qala.programme.inputs.Inputs` source (:mod:`.verify`); progress and
earned-value indices come from :mod:`.progress`, audit flags from :mod:`.audit`. Data comes in
and goes out through :mod:`.importing` and :mod:`.export`; :mod:`.demo` builds the national
Smart City programme 2019–2021. See docs/programme.md.
"""
