"""The web edge every API shares: who is asking, which tenant, media types, paging links.

Route modules of every capability take these from :mod:`qala.web.edge`, never from another
capability's routes.
"""
