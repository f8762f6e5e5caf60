"""TensorFlow 2 quickstart for beginners (Keras): Flatten, Dense, Dropout, logits, Adam.

The TensorFlow documentation's first program: a 784-128-10 model on 28×28 images, the loss
`SparseCategoricalCrossentropy(from_logits=True)` tried on one prediction, `fit` for 5 epochs with
accuracy, `evaluate`, and a probability model that appends a Softmax. Changed for symgrad: the
import line and the data line (see mnist_digits.py).
"""

import mnist_digits as mnist  # was: mnist = tf.keras.datasets.mnist

import symgrad.tf as tf  # was: import tensorflow as tf

print("TensorFlow version:", tf.__version__)

(x_train, y_train), (x_test, y_test) = mnist.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0

model = tf.keras.models.Sequential([
  tf.keras.layers.Flatten(input_shape=(28, 28)),
  tf.keras.layers.Dense(128, activation='relu'),
  tf.keras.layers.Dropout(0.2),
  tf.keras.layers.Dense(10)
])

predictions = model(x_train[:1]).numpy()
predictions

tf.nn.softmax(predictions).numpy()

loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

loss_fn(y_train[:1], predictions).numpy()

model.compile(optimizer='adam',
              loss=loss_fn,
              metrics=['accuracy'])

model.fit(x_train, y_train, epochs=5)

model.evaluate(x_test,  y_test, verbose=2)

probability_model = tf.keras.Sequential([
  model,
  tf.keras.layers.Softmax()
])

probability_model(x_test[:5])
