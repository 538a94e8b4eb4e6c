module gotrace.demo/shop

go 1.19
