print("sockify-load: not yet")
