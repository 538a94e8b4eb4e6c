module gotrace.bench/overhead

go 1.19
