module gotrace.bench/buildmodule

go 1.19
