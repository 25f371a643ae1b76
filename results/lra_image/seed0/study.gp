set terminal pngcairo size 1000,620 noenhanced
set datafile separator ','
set key outside right
set grid
set ylabel 'test accuracy'
set output 'results/lra_image/seed0/study_accuracy.png'
set xlabel 'epoch'
set xtics 1
plot 'results/lra_image/seed0/study_epochs.csv' using (strcol(1) eq 'linformer' ? $2 : 1/0):4 with linespoints lc 1 dt 1 pt 1 title 'linformer', 'results/lra_image/seed0/study_epochs.csv' using (strcol(1) eq 'performer' ? $2 : 1/0):4 with linespoints lc 2 dt 1 pt 2 title 'performer', 'results/lra_image/seed0/study_epochs.csv' using (strcol(1) eq 'sparse_strided' ? $2 : 1/0):4 with linespoints lc 3 dt 1 pt 3 title 'sparse_strided', 'results/lra_image/seed0/study_epochs.csv' using (strcol(1) eq 'reformer' ? $2 : 1/0):4 with linespoints lc 4 dt 1 pt 4 title 'reformer'
set output 'results/lra_image/seed0/study_time.png'
set xlabel 'training time (s)'
set xtics autofreq
plot 'results/lra_image/seed0/study_epochs.csv' using (strcol(1) eq 'linformer' ? $3 : 1/0):4 with linespoints lc 1 dt 1 pt 1 title 'linformer', 'results/lra_image/seed0/study_epochs.csv' using (strcol(1) eq 'performer' ? $3 : 1/0):4 with linespoints lc 2 dt 1 pt 2 title 'performer', 'results/lra_image/seed0/study_epochs.csv' using (strcol(1) eq 'sparse_strided' ? $3 : 1/0):4 with linespoints lc 3 dt 1 pt 3 title 'sparse_strided', 'results/lra_image/seed0/study_epochs.csv' using (strcol(1) eq 'reformer' ? $3 : 1/0):4 with linespoints lc 4 dt 1 pt 4 title 'reformer'
