set terminal pngcairo size 1000,620 noenhanced
set datafile separator ','
set key outside right
set grid
set ylabel 'test accuracy'
set output 'results/seed2/study_accuracy.png'
set xlabel 'epoch'
set xtics 1
plot 'results/seed2/study_epochs.csv' using (strcol(1) eq 'softmax' ? $2 : 1/0):4 with linespoints lc 1 dt 1 pt 1 title 'softmax', 'results/seed2/study_epochs.csv' using (strcol(1) eq 'linear' ? $2 : 1/0):4 with linespoints lc 2 dt 1 pt 2 title 'linear', 'results/seed2/study_epochs.csv' using (strcol(1) eq 'linear_elu' ? $2 : 1/0):4 with linespoints lc 3 dt 1 pt 3 title 'linear_elu', 'results/seed2/study_epochs.csv' using (strcol(1) eq 'efficient' ? $2 : 1/0):4 with linespoints lc 4 dt 1 pt 4 title 'efficient', 'results/seed2/study_epochs.csv' using (strcol(1) eq 'taylor' ? $2 : 1/0):4 with linespoints lc 5 dt 1 pt 5 title 'taylor', 'results/seed2/study_epochs.csv' using (strcol(1) eq 'linformer' ? $2 : 1/0):4 with linespoints lc 6 dt 1 pt 6 title 'linformer', 'results/seed2/study_epochs.csv' using (strcol(1) eq 'rfa' ? $2 : 1/0):4 with linespoints lc 7 dt 1 pt 7 title 'rfa', 'results/seed2/study_epochs.csv' using (strcol(1) eq 'performer' ? $2 : 1/0):4 with linespoints lc 8 dt 1 pt 8 title 'performer', 'results/seed2/study_epochs.csv' using (strcol(1) eq 'nystrom' ? $2 : 1/0):4 with linespoints lc 9 dt 2 pt 9 title 'nystrom'
set output 'results/seed2/study_time.png'
set xlabel 'training time (s)'
set xtics autofreq
plot 'results/seed2/study_epochs.csv' using (strcol(1) eq 'softmax' ? $3 : 1/0):4 with linespoints lc 1 dt 1 pt 1 title 'softmax', 'results/seed2/study_epochs.csv' using (strcol(1) eq 'linear' ? $3 : 1/0):4 with linespoints lc 2 dt 1 pt 2 title 'linear', 'results/seed2/study_epochs.csv' using (strcol(1) eq 'linear_elu' ? $3 : 1/0):4 with linespoints lc 3 dt 1 pt 3 title 'linear_elu', 'results/seed2/study_epochs.csv' using (strcol(1) eq 'efficient' ? $3 : 1/0):4 with linespoints lc 4 dt 1 pt 4 title 'efficient', 'results/seed2/study_epochs.csv' using (strcol(1) eq 'taylor' ? $3 : 1/0):4 with linespoints lc 5 dt 1 pt 5 title 'taylor', 'results/seed2/study_epochs.csv' using (strcol(1) eq 'linformer' ? $3 : 1/0):4 with linespoints lc 6 dt 1 pt 6 title 'linformer', 'results/seed2/study_epochs.csv' using (strcol(1) eq 'rfa' ? $3 : 1/0):4 with linespoints lc 7 dt 1 pt 7 title 'rfa', 'results/seed2/study_epochs.csv' using (strcol(1) eq 'performer' ? $3 : 1/0):4 with linespoints lc 8 dt 1 pt 8 title 'performer', 'results/seed2/study_epochs.csv' using (strcol(1) eq 'nystrom' ? $3 : 1/0):4 with linespoints lc 9 dt 2 pt 9 title 'nystrom'
