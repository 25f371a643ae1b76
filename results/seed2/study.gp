set terminal pngcairo size 1000,620 noenhanced
set datafile separator ','
set key outside right
set grid
set ylabel 'test accuracy'
set output 'results/seed2/study_accuracy.png'
set xlabel 'epoch'
set xtics 1
plot 
set output 'results/seed2/study_time.png'
set xlabel 'training time (s)'
set xtics autofreq
plot 
