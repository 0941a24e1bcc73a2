## Барлық беттерге ортақ
site-tagline = Кері байланыс
nav-privacy = Құпиялылық саясаты
nav-write = Бізге жазыңыз
language-label = Тіл
footer-sealed = Электрондық пошта мекенжайыңыз мөрленген: ол шифрланған түрде сақталады және оны ешкім, тіпті қызметкерлер де көрмейді.
footer-powered = Sealpost негізінде жұмыс істейді

## Кері байланыс пішіні
form-title = Бізге жазыңыз
form-intro = Біз әр хабарламаны оқимыз. Тек хабарламаның өзі мен құпиялылық саясатына келісіміңіз міндетті, қалғаны — өз қалауыңыз бойынша.
field-optional = міндетті емес
field-required = міндетті
field-name = Атыңыз
field-name-hint = Сізге қалай жүгінейік?
field-email = Электрондық пошта мекенжайы
field-email-hint = Мекенжай болмаса, сізге электрондық пошта арқылы жауап беру мүмкін емес; дегенмен жауаптарды жібергеннен кейін алатын жеке сілтеме арқылы оқи аласыз.
field-email-sealed = Мөрленген: шифрланған түрде сақталады, ешкімге көрсетілмейді.
field-subject = Тақырып
field-body = Хабарлама
field-body-hint = Қарапайым мәтін немесе жай пішімдеу: абзацтар, жуан қаріп, курсив, тізімдер мен сілтемелер.
field-consent = Құпиялылық саясатымен таныстым және оны қабылдаймын.
field-consent-link = Құпиялылық саясатын оқу
field-consent-version = Нұсқа: { $version }
honeypot-label = Бұл өрісті бос қалдырыңыз
form-submit = Хабарламаны жіберу
form-errors-summary = Белгіленген өрістерді тексеріңіз; енгізгеніңіздің бәрі сақталған.

## Өріс қателері
error-required = Бұл өрісті толтыру міндетті.
error-too-long = Ең көбі { $max } таңба енгізуге болады.
error-control-characters = Мұнда жол ауыстыруға және басқару таңбаларына рұқсат етілмейді.
error-body-control-characters = Хабарламада мәтінде болмайтын басқару таңбалары (мысалы, NUL) бар.
error-invalid-email = Бұл электрондық пошта мекенжайына ұқсамайды (үлгі: name@example.org).
error-unsupported = Бұл мәнге қолдау көрсетілмейді.
error-consent = Хабарламаны жіберу үшін құпиялылық саясатын қабылдаңыз.
error-stale-policy = Бұл бетті ашқаннан бері құпиялылық саясаты өзгерді. Оны оқып, қайта қабылдаңыз.
error-policy-version-missing = Пішін өзі көрсеткен құпиялылық саясатының нұсқасынсыз келді. Жоғарыдағы саясатты тексеріп, қайта жіберіңіз; мәтініңіз сақталған.
error-refused = Бұл хабарлама осы күйінде қабылданбайды. Егер оны өзіңіз жазсаңыз, қысқартыңыз немесе сілтемелерді алып тастап, қайта жіберіңіз; мәтініңіз төменде сақталды.
error-captcha = Капча шешілмеді. Қайталап көріңіз.
error-captcha-unavailable = Қазір капчаны тексере алмадық. Бір минуттан кейін қайталап көріңіз; мәтініңіз төменде сақталған.
error-pow = Форманың адам браузерінен жіберілгенін тексеру өтпеді. Төмендегі тексеру аяқталғанша күтіп, форманы қайта жіберіңіз; мәтініңіз төменде сақталған.
error-pow-required = Бұл формаға JavaScript қажет: ол форманың адам браузерінен жіберілгенін тексереді. JavaScript-ті қосып, төмендегі тексеру аяқталғанша күтіп, форманы қайта жіберіңіз; мәтініңіз төменде сақталған.
pow-noscript = JavaScript-сіз де хабарламаңыз жіберіледі, бірақ ол біреуге жетпес бұрын тексеріледі.
pow-noscript-required = Бұл формаға JavaScript қажет: ол басқа сайттарсыз, тікелей браузеріңізде форманы адам жіберіп жатқанын тексереді.
error-rate-limited = Сіз қысқа уақыт ішінде бірнеше хабарлама жібердіңіз. { $seconds } секунд күтіп, қайта жіберіңіз; мәтініңіз төменде сақталған.

## Растау
sent-title = Хабарлама жіберілді
sent-lead = Рақмет, хабарламаңыз келіп түсті.
sent-reference = Өтініш нөмірі
sent-reference-hint = Осы хабарлама бойынша бізге хабарлассаңыз, осы нөмірді көрсетіңіз.
sent-link-title = Жеке сілтемеңіз
sent-link-text = Бұл сілтемені сақтап қойыңыз: біздің жауаптарымызды оқудың және осы хат алмасуда қайта жазудың жалғыз жолы — осы. Сілтемесі бар кез келген адам хат алмасуды оқи алады, сондықтан оны ешкімге бермеңіз.
sent-open-thread = Хат алмасуды ашу
sent-write-another = Тағы хабарлама жазу

## Жеке хат алмасу
thread-title = Хат алмасу: { $reference }
thread-started = Басталған күні: { $date }
thread-status-new = Қабылданды
thread-status-open = Ашық
thread-status-answered = Жауап берілді
thread-status-closed = Жабық
thread-status-spam = Жабық
author-visitor = Сіз
author-staff = { $site } командасы
thread-waiting = Әзірге жауап жоқ. Жауабымыз осы бетте пайда болады, ал мекенжай көрсеткен болсаңыз, поштаңызға да келеді.
thread-write-again = Қайта жазу
thread-send = Жіберу
thread-private-note = Бұл бет жеке: сілтемесі бар кез келген адам оны оқи алады.

## Құпиялылық саясаты
privacy-title = Құпиялылық саясаты
privacy-version = Нұсқа: { $version }
privacy-not-translated = Бұл саясат әлі сіздің тіліңізге аударылмаған; ол сайттың негізгі тілінде көрсетілген.

## Қате беттері
error-title-not-found = Табылмады
error-text-not-found = Мұндай бет жоқ немесе оның сілтемесі енді жарамсыз.
error-title-too-large = Тым үлкен
error-text-too-large = Жіберген деректеріңіз рұқсат етілген көлемнен асып кетті. Қысқартып, қайталап көріңіз.
error-title-rate-limited = Сұраулар тым көп
error-text-rate-limited = Бір минут күтіп, қайталап көріңіз.
error-title-unavailable = Уақытша қолжетімсіз
error-text-unavailable = Қазір мұны орындай алмадық. Бір минуттан кейін қайталап көріңіз.
error-title-timeout = Сұрау тым ұзаққа созылды
error-text-timeout = Браузер деректерді уақытында жібере алмады. Қайта жіберіп көріңіз.
error-title-forbidden = Рұқсат жоқ
error-text-forbidden = Сіздің тіркелгіңізге бұл бет қолжетімсіз немесе форманың мерзімі өтті. Артқа қайтып, бетті жаңартып, қайталап көріңіз.
error-title-bad-request = Сұрауда қате бар
error-text-bad-request = Браузеріңіз біз оқи алмаған деректер жіберді. Артқа қайтып, қайталап көріңіз.
error-title-internal = Бірдеңе дұрыс болмады
error-text-internal = Бұл біздің қатеміз. Кейінірек қайталап көріңіз.
error-request-id = Сұрау идентификаторы: { $id }
error-back = Пішінге оралу

## Mail
# The subject of every mail of a conversation is the same, with its reference, so that
# mail clients keep one thread; these stand in when the visitor gave no subject.
mail-thread-subject-staff = { $site } арқылы хабарлама
mail-thread-subject-visitor = { $site } сайтына хабарламаңыз
mail-new-intro = Келуші кері байланыс пішіні арқылы хабарлама жіберді.
mail-followup-intro = Келуші осы хат алмасуда қайта жазды.
mail-subject-label = Тақырып
mail-reference-label = Өтініш нөмірі
mail-new-reply-hint = Жауап беру үшін осы хатқа жауап жазыңыз. Жауабыңыз келушіге қолдау қызметінің мекенжайынан жетеді: ол сіздің мекенжайыңызды көрмейді, ал оның мекенжайын ешкім көрмейді.
mail-new-no-email = Келуші электрондық пошта мекенжайын қалдырмаған: қызметкерлердің кіріс жәшігінде жауап беріңіз, келуші оны жеке сілтемесі арқылы оқиды.
mail-new-inbox-link = Қызметкерлердің кіріс жәшігінде ашу: { $url }
mail-new-inbox-button = Кіріс жәшігінде ашу
mail-ack-intro = Бізге жазғаныңыз үшін рақмет. Хабарламаңыз { $site } командасына келіп түсті.
mail-ack-link = Хат алмасуға арналған жеке сілтемеңіз; оны ешкімге бермеңіз:
mail-ack-reply-hint = Хабарламаңызды толықтыру үшін осы хатқа жауап жазуыңызға да болады.
mail-answer-intro = { $site } командасы хабарламаңызға жауап берді:
mail-answer-reply-hint = Жауап беру үшін осы хатқа жауап жазыңыз. Бүкіл хат алмасуды алғашқы хатымыздағы жеке сілтеме арқылы көре аласыз.
mail-footer-auto = Бұл хатты { $site } автоматты түрде жіберді.
mail-relay-notice-subject = Жауабыңыз жеткізілмеді { $reference }
mail-relay-notice-intro = { $reference } хатына поштамен жауабыңыз келушіге жетпеді.
mail-relay-notice-empty = Хатта Sealpost оқи алатын мәтін жоқ: тек дәйексөз, қолтаңба немесе тіркемелер.
mail-relay-notice-unreadable = Оның HTML-і тым үлкен немесе тым терең кірістірілген, ал мәтіндік бөлігі жоқ.
mail-relay-notice-too-long = Жаңа мәтін 20 000 таңбадан ұзын.
mail-relay-notice-again = Поштамен қайта жауап беріңіз немесе қызметкерлер жәшігінде жауап беріңіз.

## Disclosures: the notice to the data subject
mail-disclosure-subject = { $reference } хабарламаңыз бойынша деректер ашылды
mail-disclosure-intro = Заң талабы бойынша { $site } сіз және сіздің хабарламаңыз туралы деректерді мемлекеттік органға ашуға міндетті болды. Заң рұқсат етісімен сізге хабарлап отырмыз.
mail-disclosure-authority = Кімге ашылды
mail-disclosure-basis = Құқықтық негіз
mail-disclosure-date = Ашылған күні
mail-disclosure-what = Не ашылды
mail-disclosure-why = Тек талап қамтыған деректер ғана ашылды, әр қадам біздің аудит журналымызға жазылды. Сұрақтарыңыз болса, осы хатқа жауап жазыңыз.

## Disclosures: legal instruments and categories of data
instrument-subpoena = Шақыру қағазы (мәлімет беру туралы талап)
instrument-court_order = Сот шешімі
instrument-warrant = Ордер
instrument-emergency = Шұғыл сұрау
instrument-user_consent = Пайдаланушының келісімі
category-contact_data = Байланыс деректері (электрондық пошта мекенжайы, аты, IP мекенжайы)
category-message_content = Хабарламаларыңыздың мазмұны
category-technical_data = Техникалық деректер (IP мекенжайы, уақыт, тіл)

## The transparency report
nav-transparency = Ашықтық есебі
transparency-title = Ашықтық есебі
transparency-lead = Мемлекеттік органдар бізге жазатын адамдар туралы деректерді қаншалықты жиі сұрады және әр сұрауға не істедік. Жарты жыл бойынша, сұрау келген күн бойынша саналады.
transparency-threshold = Нөлден үлкен, бірақ { $n }-ден кіші кез келген сан тек «{ $n }-ден аз» деп көрсетіледі, сонда жеке сұрауды немесе адамды анықтау мүмкін болмайды; нөл 0 деп көрсетіледі.
transparency-fewer-than = { $n }-ден аз
transparency-none = Әзірге деректерді ашу туралы сұрау түскен жоқ.
transparency-received = Түскен сұраулар
transparency-by-instrument = Құқықтық негіз бойынша
transparency-outcome = Нәтиже
transparency-rejected = Қабылданбады
transparency-partly = Ішінара ашылды
transparency-fully = Толық ашылды
transparency-withdrawn = Кері қайтарылды
transparency-pending = Әлі қаралуда
transparency-subjects = Деректері ашылған адамдар
transparency-partly-hint = «Ішінара ашылды» дегеніміз сұралғаннан азырақ ашылды дегенді білдіреді: деректердің азырақ түрі немесе азырақ адам туралы.

## The visitor's own data
thread-your-data = Сіздің деректеріңіз: <a href="{ $base }/export">осы хат алмасу туралы бізде сақталғанның бәрін жүктеп алу</a> (JSON) · <a href="{ $base }/erase">келісімді қайтарып алып, оны жою</a>
erase-title = Осы хат алмасуды жою керек пе?
erase-text = Сіздің хабарламаларыңыз, біздің жауаптарымыз және байланыс деректеріңіз (мекенжай, аты, жіберілген IP) біржола жойылады, ал бұл сілтеме жұмыс істемей қалады. Деректерді сақтағыңыз келсе, алдымен оларды жүктеп алыңыз.
erase-button = Бәрін жою
erase-back = Хат алмасуға оралу
erased-title = Жойылды
erased-text = Хат алмасу мен байланыс деректеріңіз жойылды. Бізге жазғаныңыз үшін рахмет.
erase-held-title = Бұл хат алмасуды қазір жою мүмкін емес
erase-held-text = Ол ұсталып тұр және әзірге жойылмайды. Ештеңе жойылған жоқ. Оны жеке сілтемеңіз арқылы оқи бересіз.

## Staff: legal holds
legal-hold-placed = { $count ->
    [one] { $count } хат алмасу ұстауға алынды.
   *[other] { $count } хат алмасу ұстауға алынды.
}

## Staff: mail to legal users about disclosure requests
mail-approval-subject = { $case } ашу сұрауы сіздің бекітуіңізді күтуде
mail-approval-intro = { $site } жүйесінде деректерді ашу сұрауы берілді. Орындалмас бұрын оны екінші заңгер бекітуі керек: сіз оны қарап, бекіте немесе қабылдамай аласыз.
mail-legal-case-label = Сұрау
mail-legal-filed-by = Берген
mail-legal-deadline = Мерзімі
mail-legal-open-link = Сұрауды ашу: { $url }
mail-legal-open-button = Сұрауды ашу
mail-legal-no-subjects = Бұл хатта деректер субъектілері аталмайды: сұрау кім және не туралы екені тек оның бетінде.
mail-reminder-subject = Мерзім жақын: { $case } ашу сұрауы
mail-reminder-intro = Төмендегі ашу сұрауы әлі ашық, оның мерзімі жақын.
mail-reminder-overdue = Төмендегі ашу сұрауы әлі ашық, ал оның мерзімі өтіп кетті.
