set terminal pngcairo size 900,520
set output 'results/data_parallel_projection.png'
set datafile separator ','
set logscale x 2
set xlabel 'machines P (global batch 128 P)'
set ylabel 'scaling efficiency, synchronous allreduce'
set yrange [*:1.001]
set key bottom left
set grid
set title 'Ring-allreduce cost model, latency 30 us (contended compute times)'
plot for [c in 'A B'] for [g in '10 25 100'] 'results/data_parallel_projection.csv' using (strcol(1) eq c && $2 == real(g) ? $3 : 1/0):7 with linespoints title 'config '.c.', '.g.' Gbit/s'
