## Общее для всех страниц
site-tagline = Обратная связь
nav-privacy = Политика конфиденциальности
nav-write = Написать нам
language-label = Язык
footer-sealed = Ваш адрес электронной почты запечатан: он хранится в зашифрованном виде, и никто, включая сотрудников, его не видит.
footer-powered = Работает на Sealpost

## Форма обратной связи
form-title = Написать нам
form-intro = Мы читаем каждое сообщение. Обязательны только само сообщение и согласие с политикой конфиденциальности, остальное — по вашему желанию.
field-optional = необязательно
field-required = обязательно
field-name = Ваше имя
field-name-hint = Как к вам обращаться?
field-email = Адрес электронной почты
field-email-hint = Без адреса ответить вам по почте не получится, но ответы можно будет прочитать по личной ссылке, которую вы получите после отправки.
field-email-sealed = Запечатан: хранится в зашифрованном виде и никому не показывается.
field-subject = Тема
field-body = Сообщение
field-body-hint = Обычный текст или простое оформление: абзацы, полужирный, курсив, списки и ссылки.
field-consent = Я прочитал(а) политику конфиденциальности и принимаю её.
field-consent-link = Прочитать политику конфиденциальности
field-consent-version = Версия { $version }
honeypot-label = Оставьте это поле пустым
form-submit = Отправить сообщение
form-errors-summary = Проверьте отмеченные поля — всё, что вы ввели, сохранено.

## Ошибки в полях
error-required = Это обязательное поле.
error-too-long = Слишком длинный текст. Максимум символов: { $max }.
error-control-characters = Переносы строк и управляющие символы здесь недопустимы.
error-body-control-characters = Сообщение содержит управляющие символы (например, NUL), недопустимые в тексте.
error-invalid-email = Это не похоже на адрес электронной почты (пример: name@example.org).
error-unsupported = Это значение не поддерживается.
error-consent = Чтобы отправить сообщение, примите политику конфиденциальности.
error-stale-policy = Политика конфиденциальности изменилась после того, как вы открыли эту страницу. Прочитайте её и примите ещё раз.
error-policy-version-missing = Форма пришла без версии политики конфиденциальности, которую она показывала. Проверьте политику выше и отправьте ещё раз — ваш текст сохранён.
error-refused = Это сообщение не может быть принято в таком виде. Если вы написали его сами, сократите его или уберите ссылки и отправьте снова; ваш текст сохранён ниже.
error-captcha = Капча не пройдена. Попробуйте ещё раз.
error-captcha-unavailable = Сейчас не удалось проверить капчу. Попробуйте через минуту — ваш текст сохранён ниже.
error-rate-limited = Вы отправили несколько сообщений за короткое время. Подождите { $seconds } сек. и отправьте ещё раз — ваш текст сохранён ниже.

## Подтверждение
sent-title = Сообщение отправлено
sent-lead = Спасибо, ваше сообщение получено.
sent-reference = Номер обращения
sent-reference-hint = Укажите его, если будете писать нам по поводу этого сообщения.
sent-link-title = Ваша личная ссылка
sent-link-text = Сохраните эту ссылку: только по ней можно прочитать наши ответы и продолжить переписку. Любой, у кого она есть, может прочитать переписку, поэтому никому её не передавайте.
sent-open-thread = Открыть переписку
sent-write-another = Написать ещё одно сообщение

## Личная переписка
thread-title = Переписка { $reference }
thread-started = Начата: { $date }
thread-status-new = Получено
thread-status-open = Открыто
thread-status-answered = Есть ответ
thread-status-closed = Закрыто
thread-status-spam = Закрыто
author-visitor = Вы
author-staff = Команда { $site }
thread-waiting = Ответа пока нет. Наш ответ появится на этой странице, а если вы указали адрес, то и в вашей почте.
thread-write-again = Написать ещё раз
thread-send = Отправить
thread-private-note = Это личная страница: её может прочитать любой, у кого есть ссылка.

## Политика конфиденциальности
privacy-title = Политика конфиденциальности
privacy-version = Версия { $version }
privacy-not-translated = Эта политика пока не переведена на ваш язык; она показана на основном языке сайта.

## Страницы ошибок
error-title-not-found = Страница не найдена
error-text-not-found = Такой страницы нет, или ссылка на неё больше недействительна.
error-title-too-large = Слишком большой объём
error-text-too-large = Отправленные данные больше допустимого размера. Сократите текст и попробуйте ещё раз.
error-title-rate-limited = Слишком много запросов
error-text-rate-limited = Подождите минуту и попробуйте ещё раз.
error-title-unavailable = Временно недоступно
error-text-unavailable = Сейчас не удалось выполнить действие. Попробуйте ещё раз через минуту.
error-title-timeout = Запрос шёл слишком долго
error-text-timeout = Браузер не успел отправить данные вовремя. Пожалуйста, отправьте ещё раз.
error-title-forbidden = Доступ запрещён
error-text-forbidden = Вашей учётной записи эта страница недоступна, или форма устарела. Вернитесь, обновите страницу и попробуйте ещё раз.
error-title-bad-request = Некорректный запрос
error-text-bad-request = Ваш браузер отправил данные, которые мы не смогли прочитать. Вернитесь назад и попробуйте ещё раз.
error-title-internal = Что-то пошло не так
error-text-internal = Это наша ошибка. Пожалуйста, попробуйте позже.
error-request-id = Идентификатор запроса: { $id }
error-back = Вернуться к форме

## Mail
# The subject of every mail of a conversation is the same, with its reference, so that
# mail clients keep one thread; these stand in when the visitor gave no subject.
mail-thread-subject-staff = Сообщение через { $site }
mail-thread-subject-visitor = Ваше сообщение для { $site }
mail-new-intro = Через форму обратной связи пришло сообщение от посетителя.
mail-followup-intro = В этой переписке новое сообщение от посетителя.
mail-subject-label = Тема
mail-reference-label = Номер обращения
mail-new-reply-hint = Чтобы ответить посетителю, просто ответьте на это письмо. Ваш ответ придёт ему с адреса поддержки: ваш адрес он не увидит, а его адрес не видит никто.
mail-new-no-email = Адрес электронной почты не указан: ответьте во входящих для сотрудников, и посетитель прочитает ответ по своей личной ссылке.
mail-new-inbox-link = Открыть во входящих для сотрудников: { $url }
mail-new-inbox-button = Открыть во входящих
mail-ack-intro = Спасибо, что написали нам. Команда { $site } получила ваше сообщение.
mail-ack-link = Ваша личная ссылка на переписку — никому её не передавайте:
mail-ack-reply-hint = Чтобы дополнить сообщение, можно также ответить на это письмо.
mail-answer-intro = Команда { $site } ответила на ваше сообщение:
mail-answer-reply-hint = Чтобы ответить, просто ответьте на это письмо. Вся переписка доступна по личной ссылке из нашего первого письма.
mail-footer-auto = Это автоматическое письмо от { $site }.
mail-relay-notice-subject = Ваш ответ не передан { $reference }
mail-relay-notice-intro = Ваш ответ по почте на { $reference } не дошёл до посетителя.
mail-relay-notice-empty = В письме не нашлось текста, который Sealpost может прочесть: только цитата, подпись или вложения.
mail-relay-notice-unreadable = Его HTML слишком велик или слишком глубоко вложен, а текстовой части нет.
mail-relay-notice-too-long = Новый текст длиннее 20 000 знаков.
mail-relay-notice-again = Ответьте ещё раз письмом или в почтовом ящике сотрудников.

## Disclosures: the notice to the data subject
mail-disclosure-subject = Данные по вашему сообщению { $reference } были раскрыты
mail-disclosure-intro = По требованию закона { $site } пришлось раскрыть государственному органу данные о вас и вашем сообщении. Мы сообщаем вам об этом, как только закон это позволяет.
mail-disclosure-authority = Кому раскрыты
mail-disclosure-basis = Правовое основание
mail-disclosure-date = Дата раскрытия
mail-disclosure-what = Что было раскрыто
mail-disclosure-why = Раскрыты только те данные, которых касалось требование, и каждый шаг записан в наш журнал аудита. Если у вас есть вопросы, ответьте на это письмо.

## Disclosures: legal instruments and categories of data
instrument-subpoena = Повестка (запрос о предоставлении сведений)
instrument-court_order = Решение суда
instrument-warrant = Ордер
instrument-emergency = Экстренный запрос
instrument-user_consent = Согласие пользователя
category-contact_data = Контактные данные (адрес электронной почты, имя, IP-адрес)
category-message_content = Содержание ваших сообщений
category-technical_data = Технические данные (IP-адрес, время, язык)

## The transparency report
nav-transparency = Отчёт о прозрачности
transparency-title = Отчёт о прозрачности
transparency-lead = Как часто государственные органы запрашивали у нас данные о тех, кто нам пишет, и что мы сделали с каждым запросом. Подсчёт по полугодиям, по дате поступления запроса.
transparency-threshold = Любое число больше нуля, но меньше { $n }, показывается только как «меньше { $n }», чтобы нельзя было выделить отдельный запрос или человека; ноль показывается как 0.
transparency-fewer-than = меньше { $n }
transparency-none = Запросов на раскрытие данных пока не поступало.
transparency-received = Получено запросов
transparency-by-instrument = По правовому основанию
transparency-outcome = Результат
transparency-rejected = Отклонено
transparency-partly = Раскрыто частично
transparency-fully = Раскрыто полностью
transparency-withdrawn = Отозвано
transparency-pending = Ещё рассматривается
transparency-subjects = Людей, чьи данные раскрыты
transparency-partly-hint = «Раскрыто частично» значит, что мы раскрыли меньше, чем запрашивалось: меньше видов данных или о меньшем числе людей.

## The visitor's own data
thread-your-data = Ваши данные: <a href="{ $base }/export">скачать всё, что мы храним об этой переписке</a> (JSON) · <a href="{ $base }/erase">отозвать согласие и удалить её</a>
erase-title = Удалить эту переписку?
erase-text = Ваши сообщения, наши ответы и ваши контактные данные (адрес, имя, IP-адрес отправки) будут удалены навсегда, а эта ссылка перестанет работать. Если хотите сохранить данные, сначала скачайте их.
erase-button = Удалить всё
erase-back = Вернуться к переписке
erased-title = Удалено
erased-text = Переписка и ваши контактные данные удалены. Спасибо, что написали нам.
erase-held-title = Эту переписку сейчас нельзя удалить
erase-held-text = Она удерживается и пока не может быть удалена. Ничего не удалено. Вы по-прежнему можете читать её по своей личной ссылке.

## Staff: legal holds
legal-hold-placed = { $count ->
    [one] Удержание наложено на { $count } переписку.
    [few] Удержание наложено на { $count } переписки.
    [many] Удержание наложено на { $count } переписок.
   *[other] Удержание наложено на { $count } переписки.
}

## Staff: mail to legal users about disclosure requests
mail-approval-subject = Запрос на раскрытие { $case } ждёт вашего утверждения
mail-approval-intro = В { $site } подан запрос на раскрытие данных. Прежде чем его исполнить, его должен утвердить второй юрист: вы можете рассмотреть его и утвердить или отклонить.
mail-legal-case-label = Запрос
mail-legal-filed-by = Подал
mail-legal-deadline = Срок
mail-legal-open-link = Открыть запрос: { $url }
mail-legal-open-button = Открыть запрос
mail-legal-no-subjects = В этом письме не названы субъекты данных: о ком и о чём запрос, видно только на его странице.
mail-reminder-subject = Срок близок: запрос на раскрытие { $case }
mail-reminder-intro = Запрос на раскрытие ниже всё ещё открыт, и его срок близок.
mail-reminder-overdue = Запрос на раскрытие ниже всё ещё открыт, а его срок уже прошёл.
