'''Trains a simple deep NN on the MNIST dataset (Keras: Sequential, Dropout, RMSprop).

A 784-512-512-10 ReLU network with Dropout(0.2) after each hidden layer, RMSprop, categorical
cross-entropy and accuracy, validated on the test set after every epoch, in the style of
Keras's classic examples/mnist_mlp.py. Changed for symgrad: the import lines and the data lines
(see mnist_digits.py; MNIST's sizes 60000 and 10000 in the reshapes became -1).
'''

from __future__ import print_function

import mnist_digits as mnist  # was: from keras.datasets import mnist

import symgrad.tf.keras as keras  # was: import keras
from symgrad.tf.keras.layers import Dense, Dropout  # was: from keras.layers import Dense, Dropout
from symgrad.tf.keras.models import Sequential  # was: from keras.models import Sequential
from symgrad.tf.keras.optimizers import RMSprop  # was: from keras.optimizers import RMSprop

batch_size = 128
num_classes = 10
epochs = 20

# the data, split between train and test sets
(x_train, y_train), (x_test, y_test) = mnist.load_data()

x_train = x_train.reshape(-1, 784)
x_test = x_test.reshape(-1, 784)
x_train = x_train.astype('float32')
x_test = x_test.astype('float32')
x_train /= 255
x_test /= 255
print(x_train.shape[0], 'train samples')
print(x_test.shape[0], 'test samples')

# convert class vectors to binary class matrices
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = Sequential()
model.add(Dense(512, activation='relu', input_shape=(784,)))
model.add(Dropout(0.2))
model.add(Dense(512, activation='relu'))
model.add(Dropout(0.2))
model.add(Dense(num_classes, activation='softmax'))

model.summary()

model.compile(loss='categorical_crossentropy',
              optimizer=RMSprop(),
              metrics=['accuracy'])

history = model.fit(x_train, y_train,
                    batch_size=batch_size,
                    epochs=epochs,
                    verbose=1,
                    validation_data=(x_test, y_test))
score = model.evaluate(x_test, y_test, verbose=0)
print('Test loss:', score[0])
print('Test accuracy:', score[1])
