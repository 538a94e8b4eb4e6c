module gotrace.bench/httpservice

go 1.19
