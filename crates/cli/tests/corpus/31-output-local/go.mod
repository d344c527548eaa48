module example.com/exported

go 1.19
