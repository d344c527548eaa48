print("test")
