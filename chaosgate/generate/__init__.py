"""Starter scenarios from an OpenAPI 3 document: one per operation × applicable fault class.

The document is read as it is written by whoever owns the API (`document`),
its schemas give request bodies and the fields a response must carry
(`schemas`), each operation becomes a request with its setup — a resource to
act on, a token — and the answers the document promises (`derive`), the
installed injectors' starter faults say what is injected and what each may
break (`faults`), and `scenarios` writes files that `chaosgate validate` accepts.
Nothing is sent anywhere while generating: the scenarios only say what a
later `chaosgate run` will do.
"""
