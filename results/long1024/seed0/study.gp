set terminal pngcairo size 1000,620 noenhanced
set datafile separator ','
set key outside right
set grid
set ylabel 'test accuracy'
set output 'results/long1024/seed0/study_accuracy.png'
set xlabel 'epoch'
set xtics 1
plot 'results/long1024/seed0/study_epochs.csv' using (strcol(1) eq 'linear' ? $2 : 1/0):4 with linespoints lc 1 dt 1 pt 1 title 'linear', 'results/long1024/seed0/study_epochs.csv' using (strcol(1) eq 'linear_elu' ? $2 : 1/0):4 with linespoints lc 2 dt 1 pt 2 title 'linear_elu', 'results/long1024/seed0/study_epochs.csv' using (strcol(1) eq 'efficient' ? $2 : 1/0):4 with linespoints lc 3 dt 1 pt 3 title 'efficient', 'results/long1024/seed0/study_epochs.csv' using (strcol(1) eq 'taylor' ? $2 : 1/0):4 with linespoints lc 4 dt 1 pt 4 title 'taylor', 'results/long1024/seed0/study_epochs.csv' using (strcol(1) eq 'linformer' ? $2 : 1/0):4 with linespoints lc 5 dt 1 pt 5 title 'linformer', 'results/long1024/seed0/study_epochs.csv' using (strcol(1) eq 'nystrom' ? $2 : 1/0):4 with linespoints lc 6 dt 1 pt 6 title 'nystrom', 'results/long1024/seed0/study_epochs.csv' using (strcol(1) eq 'sparse_fixed' ? $2 : 1/0):4 with linespoints lc 7 dt 1 pt 7 title 'sparse_fixed', 'results/long1024/seed0/study_epochs.csv' using (strcol(1) eq 'longformer' ? $2 : 1/0):4 with linespoints lc 8 dt 1 pt 8 title 'longformer'
set output 'results/long1024/seed0/study_time.png'
set xlabel 'training time (s)'
set xtics autofreq
plot 'results/long1024/seed0/study_epochs.csv' using (strcol(1) eq 'linear' ? $3 : 1/0):4 with linespoints lc 1 dt 1 pt 1 title 'linear', 'results/long1024/seed0/study_epochs.csv' using (strcol(1) eq 'linear_elu' ? $3 : 1/0):4 with linespoints lc 2 dt 1 pt 2 title 'linear_elu', 'results/long1024/seed0/study_epochs.csv' using (strcol(1) eq 'efficient' ? $3 : 1/0):4 with linespoints lc 3 dt 1 pt 3 title 'efficient', 'results/long1024/seed0/study_epochs.csv' using (strcol(1) eq 'taylor' ? $3 : 1/0):4 with linespoints lc 4 dt 1 pt 4 title 'taylor', 'results/long1024/seed0/study_epochs.csv' using (strcol(1) eq 'linformer' ? $3 : 1/0):4 with linespoints lc 5 dt 1 pt 5 title 'linformer', 'results/long1024/seed0/study_epochs.csv' using (strcol(1) eq 'nystrom' ? $3 : 1/0):4 with linespoints lc 6 dt 1 pt 6 title 'nystrom', 'results/long1024/seed0/study_epochs.csv' using (strcol(1) eq 'sparse_fixed' ? $3 : 1/0):4 with linespoints lc 7 dt 1 pt 7 title 'sparse_fixed', 'results/long1024/seed0/study_epochs.csv' using (strcol(1) eq 'longformer' ? $3 : 1/0):4 with linespoints lc 8 dt 1 pt 8 title 'longformer'
