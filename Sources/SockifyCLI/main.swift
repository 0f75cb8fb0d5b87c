print("sockify: not yet")
