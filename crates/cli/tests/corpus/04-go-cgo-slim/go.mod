module example.com/hashsum

go 1.19
