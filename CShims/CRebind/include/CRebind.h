// CRebind is an LD_PRELOAD library; it exports no API to Swift.
