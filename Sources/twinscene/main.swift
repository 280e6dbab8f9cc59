print("twinscene")
